//===- DumpPtx.cpp - minfer-dump-ptx
//---------------------------------------===//
//
// Writes the PTX held by `gpu.binary` ops (after `gpu-module-to-binary
// {format=isa}`, the last step of `minfer-to-ptx`) to files the runtime
// loads: `<dir>/<binary name>.<chip>.ptx`. The text comes from each
// `#gpu.object`'s getObject(), not from printed IR. The IR is not changed.
//
//===----------------------------------------------------------------------===//
#include "minfer/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace mlir::minfer {
#define GEN_PASS_DEF_MINFERDUMPPTX
#include "minfer/Transforms/Passes.h.inc"

namespace {
struct DumpPtxPass final : impl::MinferDumpPtxBase<DumpPtxPass> {
  using Base::Base;

  LogicalResult write(gpu::BinaryOp binary, gpu::ObjectAttr object) {
    auto target = dyn_cast<NVVM::NVVMTargetAttr>(object.getTarget());
    if (!target)
      return binary.emitError("minfer-dump-ptx: object target is not NVVM");
    if (object.getFormat() != gpu::CompilationTarget::Assembly)
      return binary.emitError(
          "minfer-dump-ptx: object is not PTX; lower with "
          "gpu-module-to-binary{format=isa} (minfer-to-ptx)");
    SmallString<256> path(dir);
    llvm::sys::path::append(
        path, (binary.getName() + "." + target.getChip() + ".ptx").str());
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return binary.emitError("minfer-dump-ptx: cannot write '")
             << path << "': " << ec.message();
    os << object.getObject().getValue();
    os.close();
    if (os.has_error())
      return binary.emitError("minfer-dump-ptx: error writing '")
             << path << "'";
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (dir.empty()) {
      module.emitError("minfer-dump-ptx: the 'dir' option is required");
      return signalPassFailure();
    }
    if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
      module.emitError() << "minfer-dump-ptx: cannot create directory '" << dir
                         << "': " << ec.message();
      return signalPassFailure();
    }
    bool ok = true;
    module.walk([&](gpu::BinaryOp binary) {
      for (Attribute attr : binary.getObjects())
        if (auto object = dyn_cast<gpu::ObjectAttr>(attr))
          ok &= succeeded(write(binary, object));
    });
    if (!ok)
      signalPassFailure();
  }
};
} // namespace
} // namespace mlir::minfer
