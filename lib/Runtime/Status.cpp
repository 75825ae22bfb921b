//===- Status.cpp - names of the runtime's error codes --------------------===//
//
// The names match the enumerators so that a Status prints as the code a caller
// would switch on ("ConfigError: layer 2, head 5: ...").
//
//===----------------------------------------------------------------------===//
#include "minfer/Runtime/Status.h"

namespace minfer {

const char *errorCodeName(ErrorCode code) {
  switch (code) {
  case ErrorCode::Ok: return "Ok";
  case ErrorCode::InvalidArgument: return "InvalidArgument";
  case ErrorCode::NullPointer: return "NullPointer";
  case ErrorCode::Unsupported: return "Unsupported";
  case ErrorCode::NoDevice: return "NoDevice";
  case ErrorCode::CudaError: return "CudaError";
  case ErrorCode::PtxLoadFailed: return "PtxLoadFailed";
  case ErrorCode::OutOfMemory: return "OutOfMemory";
  case ErrorCode::ConfigError: return "ConfigError";
  case ErrorCode::CompileError: return "CompileError";
  }
  // A value cast from an integer outside the enum (e.g. from the C API).
  return "Unknown";
}

std::string Status::str() const {
  if (ok())
    return "Ok";
  return std::string(errorCodeName(code_)) + ": " + message_;
}

} // namespace minfer
