//===- Pattern.cpp - spelling and validation of per-head patterns ---------===//
//
// str() prints the `#minfer.*` attribute with every parameter spelled out
// (defaults included) so the text parses back to the same attribute. The
// validation rules and messages mirror the attribute verifiers in
// lib/Dialect/Minfer/IR/MinferAttrs.cpp: a pattern accepted here is accepted
// there and vice versa.
//
//===----------------------------------------------------------------------===//
#include "minfer/Runtime/Pattern.h"

namespace minfer {

static std::string num(int64_t v) { return std::to_string(v); }

std::string HeadPattern::str() const {
  switch (kind) {
  case PatternKind::Dense:
    return "#minfer.dense";
  case PatternKind::AShape:
    return "#minfer.a_shape<sink = " + num(sink) + ", local = " + num(local) +
           ">";
  case PatternKind::VerticalSlash:
    return "#minfer.vertical_slash<vertical = " + num(vertical) +
           ", slash = " + num(slash) + ", last_q = " + num(lastQ) + ">";
  case PatternKind::BlockSparse:
    return "#minfer.block_sparse<top_k = " + num(topK) + ", block = 64>";
  }
  return "#minfer.<invalid kind>";
}

static Status notPositive(const char *what, int64_t v) {
  return invalidArgument(std::string(what) + " must be positive, got " + num(v));
}

Status HeadPattern::validate() const {
  switch (kind) {
  case PatternKind::Dense:
    return Status::success();
  case PatternKind::AShape:
    if (sink < 0)
      return invalidArgument("a_shape sink must be non-negative, got " +
                             num(sink));
    if (local <= 0)
      return notPositive("a_shape local", local);
    return Status::success();
  case PatternKind::VerticalSlash:
    if (vertical <= 0)
      return notPositive("vertical_slash vertical", vertical);
    if (slash <= 0)
      return notPositive("vertical_slash slash", slash);
    if (lastQ <= 0)
      return notPositive("vertical_slash last_q", lastQ);
    if (lastQ % 16 != 0)
      return invalidArgument(
          "vertical_slash last_q must be a multiple of 16, got " + num(lastQ));
    return Status::success();
  case PatternKind::BlockSparse:
    if (topK <= 0)
      return notPositive("block_sparse top_k", topK);
    return Status::success();
  }
  return invalidArgument("unknown pattern kind " +
                         num(static_cast<int64_t>(kind)));
}

} // namespace minfer
