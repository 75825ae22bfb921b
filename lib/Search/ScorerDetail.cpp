//===- ScorerDetail.cpp - helpers shared by the Scorer backends -----------===//
#include "ScorerDetail.h"
#include "minfer/Runtime/Reference.h"
#include <cmath>
#include <string>

namespace minfer::search::detail {

Status checkHead(const HeadTensors &head) {
  AttentionShape shape; // one head: [1, 1, N, D]
  shape.seqLen = head.seqLen;
  shape.headDim = head.headDim;
  MINFER_RETURN_IF_ERROR(shape.validate());
  if (head.batch <= 0)
    return invalidArgument("batch must be positive, got " +
                           std::to_string(head.batch));
  if (!std::isfinite(head.scale) || head.scale <= 0)
    return invalidArgument("softmax scale must be positive and finite");
  const int64_t per = head.seqLen * head.headDim;
  if (static_cast<int64_t>(head.q.size()) != head.batch * per ||
      static_cast<int64_t>(head.k.size()) != head.batch * per ||
      static_cast<int64_t>(head.v.size()) != head.batch * per)
    return invalidArgument("head tensors must each hold batch * N * D = " +
                           std::to_string(head.batch * per) + " elements");
  return Status::success();
}

Status denseSoftmaxRow(const float *qi, const float *k, int64_t i, int64_t D,
                       float scale, int64_t b, std::vector<float> &P) {
  P.resize(i + 1);
  float mx = -INFINITY;
  for (int64_t j = 0; j <= i; ++j) {
    const float *kj = k + j * D;
    float s = 0;
    for (int64_t d = 0; d < D; ++d)
      s += qi[d] * kj[d];
    P[j] = scale * s;
    if (!std::isfinite(P[j]))
      return invalidArgument(
          "attention score of query " + std::to_string(i) + ", key " +
          std::to_string(j) + " (batch " + std::to_string(b) +
          ") is not finite: q/k values too large for fp32");
    mx = std::max(mx, P[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j <= i; ++j)
    sum += std::exp(double(P[j]) - mx);
  for (int64_t j = 0; j <= i; ++j)
    P[j] = static_cast<float>(std::exp(double(P[j]) - mx) / sum);
  return Status::success();
}

Status checkReady(bool ready) {
  if (!ready)
    return invalidArgument("scorer has no head (setHead failed or was not "
                           "called)");
  return Status::success();
}

} // namespace minfer::search::detail
