//===- CApi.cpp - the C ABI of minfer.h over minfer::cuda::Runtime --------===//
//
// Thin wrappers: convert arguments, check them (before the handle, so that a
// CPU-only caller can test argument errors with a NULL handle), call the
// Runtime, keep the message of a failure in a thread-local string.
//
//===----------------------------------------------------------------------===//
#include "minfer/minfer.h"

#include "Plan.h"
#include "RuntimeImpl.h"
#include "minfer/Runtime/CudaRuntime.h"

#include <cmath>
#include <string>

using minfer::ErrorCode;
using minfer::HeadPattern;
using minfer::LayerPatterns;
using minfer::Status;
using minfer::cuda::AttentionTensors;
using minfer::cuda::Runtime;

struct minfer_runtime {
  std::unique_ptr<Runtime> rt;
};

// FFIs mirror these layouts (python/minfer/_capi.py checks the sizes).
static_assert(sizeof(minfer_run_options_t) == 16, "minfer_run_options_t layout");
static_assert(sizeof(minfer_run_stats_t) == 128, "minfer_run_stats_t layout");

namespace {

thread_local std::string lastError;

minfer_status_t finish(const Status &st) {
  if (!st.ok())
    lastError = st.str();
  return static_cast<minfer_status_t>(st.code());
}

minfer_status_t nullHandle() {
  return finish(Status(ErrorCode::NullPointer, "runtime handle is null"));
}

AttentionTensors tensors(const void *q, const void *k, const void *v, void *out,
                         int64_t batch, int64_t heads, int64_t kvHeads,
                         int64_t seqLen, int64_t headDim, int32_t dtype,
                         float scale) {
  AttentionTensors t;
  t.q = q;
  t.k = k;
  t.v = v;
  t.out = out;
  t.batch = batch;
  t.heads = heads;
  t.kvHeads = kvHeads;
  t.seqLen = seqLen;
  t.headDim = headDim;
  // Out-of-range values stay out of range: validation reports Unsupported.
  t.dtype = static_cast<minfer::kernel::ElemType>(dtype);
  t.scale = (scale == 0.0f && headDim > 0)
                ? 1.0f / std::sqrt(static_cast<float>(headDim))
                : scale;
  return t;
}

CUstream asStream(void *s) { return static_cast<CUstream>(s); }

/// RunOptions of the C options (NULL: the defaults).
minfer::cuda::RunOptions runOptions(const minfer_run_options_t *options) {
  minfer::cuda::RunOptions o;
  if (options) {
    o.denseFallback = options->dense_fallback;
    o.timing = options->timing != 0;
    o.countKept = options->count_kept != 0;
  }
  return o;
}

/// The C stats of a call of `t` that reported `s`.
void copyStats(const minfer::cuda::RunStats &s, const AttentionTensors &t,
               minfer_run_stats_t *out) {
  *out = minfer_run_stats_t{};
  out->dense_fallback = s.denseFallback ? 1 : 0;
  out->chunks = s.chunks;
  out->index_builds = s.indexBuilds;
  out->kernel_launches = s.kernelLaunches;
  out->kept_pairs = s.keptPairs;
  out->density = s.keptPairs / minfer::cuda::causalPairs(t.batch * t.heads, t.seqLen);
  out->estimate_ms = s.estimateMs;
  out->index_ms = s.indexMs;
  out->kernel_ms = s.kernelMs;
  s.attentionKernel.copy(out->attention_kernel,
                         sizeof out->attention_kernel - 1); // stays terminated
}

/// Runs `patterns` through Runtime::validate, then the handle check, then
/// the call, with `options` (NULL: defaults), filling `stats` if not NULL.
minfer_status_t runPatterns(minfer_runtime_t rt, const AttentionTensors &t,
                            const LayerPatterns &patterns, void *stream,
                            const minfer_run_options_t *options = nullptr,
                            minfer_run_stats_t *stats = nullptr) {
  minfer::cuda::RunOptions o = runOptions(options);
  Status st = Runtime::validate(t, patterns, o);
  if (!st.ok())
    return finish(st);
  if (!rt || !rt->rt)
    return nullHandle();
  minfer::cuda::RunStats rs;
  o.stats = &rs;
  st = rt->rt->sparseAttention(t, patterns, o, asStream(stream));
  if (st.ok() && stats)
    copyStats(rs, t, stats);
  return finish(st);
}

} // namespace

extern "C" {

const char *minfer_status_name(minfer_status_t status) {
  return minfer::errorCodeName(static_cast<ErrorCode>(status));
}

const char *minfer_last_error_message(void) { return lastError.c_str(); }

minfer_status_t minfer_runtime_create(minfer_runtime_t *out, int device,
                                      const char *ptx_dir) {
  if (!out)
    return finish(Status(ErrorCode::NullPointer, "out is null"));
  *out = nullptr;
  minfer::cuda::RuntimeOptions opts;
  opts.device = device;
  if (ptx_dir)
    opts.ptxDir = ptx_dir;
  std::unique_ptr<Runtime> rt;
  Status st = Runtime::create(&rt, opts);
  if (!st.ok())
    return finish(st);
  *out = new minfer_runtime{std::move(rt)};
  return MINFER_OK;
}

minfer_status_t minfer_runtime_destroy(minfer_runtime_t rt) {
  delete rt;
  return MINFER_OK;
}

minfer_status_t minfer_add_kernel_ptx(minfer_runtime_t rt, int32_t kernel_kind,
                                      int32_t dtype, int64_t head_dim,
                                      const char *ptx) {
  if (!ptx)
    return finish(Status(ErrorCode::NullPointer, "ptx is null"));
  if (kernel_kind < 0 || kernel_kind > 2)
    return finish(minfer::invalidArgument("kernel kind must be 0 (dense), 1 "
                                          "(block) or 2 (vs), got " +
                                          std::to_string(kernel_kind)));
  if (dtype != MINFER_BF16 && dtype != MINFER_F16)
    return finish(Status(ErrorCode::Unsupported,
                         "dtype must be 0 (bf16) or 1 (f16), got " +
                             std::to_string(dtype)));
  if (!rt || !rt->rt)
    return nullHandle();
  // The tuned configuration minfer-generate-kernels emits by default for the
  // chip the PTX targets (the device's when it names none); block_m / warps
  // / stages from the PTX's minfer-tile-config line, if any.
  const std::string text(ptx);
  minfer::kernel::Chip chip = rt->rt->device().chip;
  minfer::cuda::ptxTargetChip(text, &chip);
  minfer::kernel::TileConfig cfg = minfer::kernel::TileConfig::tuned(
      static_cast<minfer::kernel::KernelKind>(kernel_kind),
      static_cast<minfer::kernel::ElemType>(dtype), head_dim, chip);
  minfer::cuda::applyTileConfigLine(text, &cfg);
  return finish(rt->rt->addKernelPtx(cfg, text));
}

minfer_status_t minfer_sparse_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t batch, int64_t heads, int64_t kv_heads, int64_t seq_len,
    int64_t head_dim, int32_t dtype, float scale,
    const minfer_head_pattern_t *patterns, int64_t num_patterns, void *stream) {
  return minfer_sparse_attention_ex(rt, q, k, v, out, batch, heads, kv_heads,
                                    seq_len, head_dim, dtype, scale, patterns,
                                    num_patterns, nullptr, nullptr, stream);
}

minfer_status_t minfer_sparse_attention_ex(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t batch, int64_t heads, int64_t kv_heads, int64_t seq_len,
    int64_t head_dim, int32_t dtype, float scale,
    const minfer_head_pattern_t *patterns, int64_t num_patterns,
    const minfer_run_options_t *options, minfer_run_stats_t *stats,
    void *stream) {
  if (num_patterns < 0)
    return finish(minfer::invalidArgument("num_patterns must be non-negative"));
  if (!patterns && num_patterns > 0)
    return finish(Status(ErrorCode::NullPointer, "patterns is null"));
  LayerPatterns pats;
  for (int64_t h = 0; h < num_patterns; ++h) {
    const minfer_head_pattern_t &p = patterns[h];
    HeadPattern hp;
    switch (p.kind) {
    case MINFER_DENSE:
      hp = HeadPattern::dense();
      break;
    case MINFER_A_SHAPE:
      hp = HeadPattern::aShape(p.sink, p.local);
      break;
    case MINFER_VERTICAL_SLASH:
      hp = HeadPattern::verticalSlash(p.vertical, p.slash,
                                      p.last_q == 0 ? 64 : p.last_q);
      break;
    case MINFER_BLOCK_SPARSE:
      hp = HeadPattern::blockSparse(p.top_k);
      break;
    default:
      return finish(minfer::invalidArgument(
          "head " + std::to_string(h) + ": unknown pattern kind " +
          std::to_string(p.kind)));
    }
    pats.push_back(hp);
  }
  return runPatterns(rt,
                     tensors(q, k, v, out, batch, heads, kv_heads, seq_len,
                             head_dim, dtype, scale),
                     pats, stream, options, stats);
}

minfer_status_t minfer_vertical_slash_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    const int32_t *v_idx, const int32_t *s_idx, int64_t nnz_v, int64_t nnz_s,
    int64_t batch, int64_t heads, int64_t kv_heads, int64_t seq_len,
    int64_t head_dim, int32_t dtype, float scale, void *stream) {
  AttentionTensors t = tensors(q, k, v, out, batch, heads, kv_heads, seq_len,
                               head_dim, dtype, scale);
  Status st = Runtime::validateVerticalSlash(t, v_idx, s_idx, nnz_v, nnz_s);
  if (!st.ok())
    return finish(st);
  if (!rt || !rt->rt)
    return nullHandle();
  return finish(rt->rt->verticalSlashAttention(t, v_idx, s_idx, nnz_v, nnz_s,
                                               {}, asStream(stream)));
}

minfer_status_t minfer_block_sparse_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t top_k, int64_t batch, int64_t heads, int64_t kv_heads,
    int64_t seq_len, int64_t head_dim, int32_t dtype, float scale,
    void *stream) {
  AttentionTensors t = tensors(q, k, v, out, batch, heads, kv_heads, seq_len,
                               head_dim, dtype, scale);
  // Shapes first: `heads` sizes the pattern list.
  Status st = minfer::cuda::validateTensors(t);
  if (!st.ok())
    return finish(st);
  return runPatterns(rt, t, LayerPatterns(heads, HeadPattern::blockSparse(top_k)),
                     stream);
}

minfer_status_t minfer_streaming_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t init_num, int64_t local_window_num, int64_t batch, int64_t heads,
    int64_t kv_heads, int64_t seq_len, int64_t head_dim, int32_t dtype,
    float scale, void *stream) {
  AttentionTensors t = tensors(q, k, v, out, batch, heads, kv_heads, seq_len,
                               head_dim, dtype, scale);
  Status st = minfer::cuda::validateTensors(t);
  if (!st.ok())
    return finish(st);
  return runPatterns(
      rt, t, LayerPatterns(heads, HeadPattern::aShape(init_num, local_window_num)),
      stream);
}

} // extern "C"
