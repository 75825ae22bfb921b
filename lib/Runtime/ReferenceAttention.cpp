//===- ReferenceAttention.cpp - dense and index-driven fp32 attention -----===//
//
// The two executors of the reference: causal dense attention, and attention
// over the executed mask of a SparseIndex (ranges clipped to the causal
// diagonal, then columns). Both run one query row at a time over contiguous
// K/V rows with the shared row kernel of ReferenceDetail.h.
//
//===----------------------------------------------------------------------===//
#include "ReferenceDetail.h"
#include <limits>

namespace minfer {

using ref::detail::num;

Status checkHeadDim(int64_t headDim, const std::string &who) {
  if (kernel::isSupportedHeadDim(headDim))
    return Status::success();
  return Status(ErrorCode::Unsupported,
                who + "head_dim must be a multiple of 8 from 8 to 128, got " +
                    num(headDim));
}

Status AttentionShape::validate() const {
  const std::pair<const char *, int64_t> sizes[] = {{"batch", batch},
                                                    {"heads", heads},
                                                    {"kv_heads", kvHeads},
                                                    {"seq_len", seqLen},
                                                    {"head_dim", headDim}};
  for (const auto &[name, value] : sizes)
    if (value <= 0)
      return invalidArgument(std::string(name) + " must be positive, got " +
                             num(value));
  if (heads % kvHeads != 0)
    return invalidArgument("heads (" + num(heads) +
                           ") must be a multiple of kv_heads (" + num(kvHeads) +
                           ")");
  MINFER_RETURN_IF_ERROR(checkHeadDim(headDim));
  // The index stores token positions as int32.
  if (seqLen > std::numeric_limits<int32_t>::max())
    return invalidArgument("seq_len " + num(seqLen) + " exceeds int32 range");
  int64_t elems = 0;
  if (__builtin_mul_overflow(batch, heads, &elems) ||
      __builtin_mul_overflow(elems, seqLen, &elems) ||
      __builtin_mul_overflow(elems, headDim, &elems))
    return invalidArgument("tensor size overflows int64");
  return Status::success();
}

namespace ref {

using detail::checkSize;

Status checkAttentionInputs(const AttentionShape &s,
                            const std::vector<float> &q,
                            const std::vector<float> &k,
                            const std::vector<float> &v, float scale) {
  MINFER_RETURN_IF_ERROR(s.validate());
  if (!std::isfinite(scale))
    return invalidArgument("scale must be finite");
  MINFER_RETURN_IF_ERROR(checkSize("q", q.size(), s.qElems()));
  MINFER_RETURN_IF_ERROR(checkSize("k", k.size(), s.kvElems()));
  MINFER_RETURN_IF_ERROR(checkSize("v", v.size(), s.kvElems()));
  return Status::success();
}

/// `out` is resized and written while q/k/v are read: it must be another
/// vector.
static Status checkOut(const std::vector<float> &q, const std::vector<float> &k,
                       const std::vector<float> &v,
                       const std::vector<float> &out) {
  if (&out == &q || &out == &k || &out == &v)
    return invalidArgument("out must not alias q, k or v");
  return Status::success();
}

/// Pointers of one (b, h): its query/output rows and its kv head's rows.
struct HeadData {
  const float *Q, *K, *V;
  float *O;
};

/// Calls fn(b, h, head) for every query head (GQA: h reads kv head h / group).
template <typename Fn>
static void forEachHead(const AttentionShape &s, const std::vector<float> &q,
                        const std::vector<float> &k,
                        const std::vector<float> &v, std::vector<float> &out,
                        Fn &&fn) {
  const int64_t ND = s.seqLen * s.headDim;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h) {
      int64_t kvh = b * s.kvHeads + s.kvHeadOf(h);
      HeadData hd{q.data() + (b * s.heads + h) * ND, k.data() + kvh * ND,
                  v.data() + kvh * ND, out.data() + (b * s.heads + h) * ND};
      fn(b, h, hd);
    }
}

Status denseAttention(const AttentionShape &s, const std::vector<float> &q,
                      const std::vector<float> &k, const std::vector<float> &v,
                      float scale, std::vector<float> &out) {
  MINFER_RETURN_IF_ERROR(checkAttentionInputs(s, q, k, v, scale));
  MINFER_RETURN_IF_ERROR(checkOut(q, k, v, out));
  const int64_t N = s.seqLen, D = s.headDim;
  out.assign(s.qElems(), 0.0f);
  detail::RowScratch w(N, D);
  forEachHead(s, q, k, v, out, [&](int64_t, int64_t, const HeadData &hd) {
    for (int64_t i = 0; i < N; ++i) {
      auto keys = [i](auto &&fn) {
        for (int64_t j = 0; j <= i; ++j)
          fn(j);
      };
      detail::attendRow(hd.Q + i * D, hd.K, hd.V, D, scale, keys, w,
                        hd.O + i * D);
    }
  });
  return Status::success();
}

Status indexedAttention(const AttentionShape &s, const std::vector<float> &q,
                        const std::vector<float> &k,
                        const std::vector<float> &v, float scale,
                        const SparseIndex &index, std::vector<float> &out) {
  MINFER_RETURN_IF_ERROR(checkAttentionInputs(s, q, k, v, scale));
  MINFER_RETURN_IF_ERROR(checkOut(q, k, v, out));
  if (index.batch != s.batch || index.heads != s.heads ||
      index.seqLen != s.seqLen)
    return invalidArgument("index is for [B, H, N] = [" + num(index.batch) +
                           ", " + num(index.heads) + ", " + num(index.seqLen) +
                           "], attention is [" + num(s.batch) + ", " +
                           num(s.heads) + ", " + num(s.seqLen) + "]");
  // A malformed index (overlapping ranges, say) would count keys twice: the
  // reference refuses it rather than computing something no kernel computes.
  MINFER_RETURN_IF_ERROR(validateIndex(index));

  const int64_t N = s.seqLen, D = s.headDim, NB = index.numBlocks();
  const int64_t R = index.maxRanges, C = index.maxColumns;
  out.assign(s.qElems(), 0.0f);
  detail::RowScratch w(N, D);
  forEachHead(s, q, k, v, out, [&](int64_t b, int64_t h, const HeadData &hd) {
    const float *Q = hd.Q, *K = hd.K, *V = hd.V;
    float *O = hd.O;
    for (int64_t m = 0; m < NB; ++m) {
      int64_t row = index.row(b, h, m);
      const int32_t *rg = index.ranges.data() + row * R * 2;
      const int32_t *cols = index.columnIndex.data() + row * C;
      int64_t nr = index.rangeCount[row], nc = index.columnCount[row];
      for (int64_t i = detail::blockStart(m); i < detail::blockEnd(m, N); ++i) {
        auto keys = [&](auto &&fn) {
          for (int64_t r = 0; r < nr; ++r) {
            int64_t hi = rg[2 * r + 1] < i + 1 ? rg[2 * r + 1] : i + 1;
            for (int64_t j = rg[2 * r]; j < hi; ++j)
              fn(j);
          }
          // Columns are sorted: stop at the causal diagonal.
          for (int64_t c = 0; c < nc && cols[c] <= i; ++c)
            fn(cols[c]);
        };
        detail::attendRow(Q + i * D, K, V, D, scale, keys, w, O + i * D);
      }
    }
  });
  return Status::success();
}

} // namespace ref
} // namespace minfer
