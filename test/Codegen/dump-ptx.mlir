// minfer-dump-ptx writes each PTX object to <dir>/<binary>.<chip>.ptx.
// RUN: rm -rf %t
// RUN: minfer-opt %s -split-input-file -minfer-dump-ptx=dir=%t/out -verify-diagnostics | FileCheck %s --check-prefix=IR
// RUN: FileCheck %s --check-prefix=A80 < %t/out/kern_a.sm_80.ptx
// RUN: FileCheck %s --check-prefix=A90 < %t/out/kern_a.sm_90.ptx
// RUN: not minfer-opt %s -split-input-file -minfer-dump-ptx 2>&1 | FileCheck %s --check-prefix=NODIR
// NODIR: error: minfer-dump-ptx: the 'dir' option is required

// IR: gpu.binary @kern_a
// A80: .target sm_80
// A80-NEXT: .entry kern_a
// A90: .target sm_90
module attributes {gpu.container_module} {
  gpu.binary @kern_a [
    #gpu.object<#nvvm.target<chip = "sm_80">, assembly = ".version 8.0\0A.target sm_80\0A.entry kern_a\0A">,
    #gpu.object<#nvvm.target<chip = "sm_90">, assembly = ".version 8.0\0A.target sm_90\0A.entry kern_a\0A">
  ]
}

// -----

module attributes {gpu.container_module} {
  // expected-error @+1 {{minfer-dump-ptx: object is not PTX; lower with gpu-module-to-binary{format=isa} (minfer-to-ptx)}}
  gpu.binary @kern_b [#gpu.object<#nvvm.target<chip = "sm_90">, bin = "\00\01">]
}
