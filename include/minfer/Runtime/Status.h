//===- Status.h - error values of the runtime and the C API -----*- C++ -*-===//
//
// The library never aborts on bad input: every entry point returns a Status.
// The codes are mirrored one-to-one by the C API's minfer_status_t.
//
//===----------------------------------------------------------------------===//
#ifndef MINFER_RUNTIME_STATUS_H
#define MINFER_RUNTIME_STATUS_H

#include <string>
#include <utility>

namespace minfer {

enum class ErrorCode {
  Ok = 0,
  InvalidArgument = 1, ///< bad shape, budget, size
  NullPointer = 2,
  Unsupported = 3,     ///< head_dim, dtype, chip not supported
  NoDevice = 4,        ///< no libcuda or no CUDA device
  CudaError = 5,       ///< a driver call failed
  PtxLoadFailed = 6,
  OutOfMemory = 7,
  ConfigError = 8,     ///< malformed per-head config
  CompileError = 9,    ///< the JIT pipeline failed
};

const char *errorCodeName(ErrorCode code);

class Status {
public:
  Status() = default;
  Status(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}
  static Status success() { return Status(); }
  bool ok() const { return code_ == ErrorCode::Ok; }
  explicit operator bool() const { return ok(); }
  ErrorCode code() const { return code_; }
  const std::string &message() const { return message_; }
  /// "InvalidArgument: <message>"
  std::string str() const;

private:
  ErrorCode code_ = ErrorCode::Ok;
  std::string message_;
};

inline Status invalidArgument(std::string m) {
  return Status(ErrorCode::InvalidArgument, std::move(m));
}

} // namespace minfer

/// Propagates a non-ok Status to the caller.
#define MINFER_RETURN_IF_ERROR(expr)                                           \
  do {                                                                         \
    ::minfer::Status minfer_status_ = (expr);                                  \
    if (!minfer_status_.ok())                                                  \
      return minfer_status_;                                                   \
  } while (0)

#endif // MINFER_RUNTIME_STATUS_H
