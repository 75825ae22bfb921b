// minfer-to-ptx checks its options itself: a bad chip is a diagnostic, not an
// LLVM abort.
// RUN: not minfer-opt %s --pass-pipeline='builtin.module(minfer-to-ptx{chip=sm_75})' 2>&1 | FileCheck %s --check-prefix=CHIP
// RUN: not minfer-opt %s --pass-pipeline='builtin.module(minfer-to-ptx{chip=sm_100a})' 2>&1 | FileCheck %s --check-prefix=CHIPA
// RUN: not minfer-opt %s --pass-pipeline='builtin.module(minfer-to-ptx{opt-level=7})' 2>&1 | FileCheck %s --check-prefix=OPT
// RUN: not minfer-opt %s --pass-pipeline='builtin.module(minfer-to-ptx{cubin=1})' 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// CHIP: minfer-to-ptx: unsupported chip 'sm_75' (expected sm_80, sm_90 or sm_90a)
// CHIPA: minfer-to-ptx: unsupported chip 'sm_100a' (expected sm_80, sm_90 or sm_90a)
// OPT: minfer-to-ptx: opt-level must be 0-3, got 7
// UNKNOWN: minfer-to-ptx:
// UNKNOWN-SAME: cubin

// A module without kernels lowers to itself.
// RUN: minfer-opt %s --pass-pipeline='builtin.module(minfer-to-ptx{chip=sm_90 opt-level=2})' | FileCheck %s
// CHECK: module
module {
}
