/*===- minfer.h - C API of the minfer CUDA runtime -----------------------===*
 *
 * A C ABI over minfer::cuda::Runtime (minfer/Runtime/CudaRuntime.h) for
 * ctypes and other FFIs: libminfer_runtime.so. Every function returns a
 * minfer_status_t (codes mirror minfer::ErrorCode); after a failure,
 * minfer_last_error_message() returns the message (per thread).
 *
 * Tensors are device pointers (e.g. torch.Tensor.data_ptr()), contiguous,
 * 16-byte aligned: q/out [B, H, N, D], k/v [B, Hkv, N, D], bf16 or f16;
 * query head h reads kv head h / (H / Hkv). D is a multiple of 8 up to 128:
 * the kernels exist for 64, 96 and 128, other head dims run on zero-padded
 * copies at the next of them (a runtime buffer of 2 (B H + B Hkv) N 128
 * elements at most). `stream` is a CUstream (NULL:
 * the default stream; torch.cuda.current_stream().cuda_stream works).
 * `scale` is the softmax scale; 0 means 1 / sqrt(head_dim).
 * Arguments are checked before the runtime handle, so a NULL handle with bad
 * arguments reports the argument error.
 *
 *===----------------------------------------------------------------------===*/
#ifndef MINFER_MINFER_H
#define MINFER_MINFER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum minfer_status {
  MINFER_OK = 0,
  MINFER_INVALID_ARGUMENT = 1,
  MINFER_NULL_POINTER = 2,
  MINFER_UNSUPPORTED = 3,
  MINFER_NO_DEVICE = 4,
  MINFER_CUDA_ERROR = 5,
  MINFER_PTX_LOAD_FAILED = 6,
  MINFER_OUT_OF_MEMORY = 7,
  MINFER_CONFIG_ERROR = 8,
  MINFER_COMPILE_ERROR = 9
} minfer_status_t;

typedef enum minfer_dtype { MINFER_BF16 = 0, MINFER_F16 = 1 } minfer_dtype_t;

typedef enum minfer_pattern_kind {
  MINFER_DENSE = 0,
  MINFER_A_SHAPE = 1,         /* sink, local (tokens) */
  MINFER_VERTICAL_SLASH = 2,  /* vertical, slash, last_q */
  MINFER_BLOCK_SPARSE = 3     /* top_k (64 x 64 blocks) */
} minfer_pattern_kind_t;

/* One head's pattern; fields a kind does not use are ignored. */
typedef struct minfer_head_pattern {
  int32_t kind; /* minfer_pattern_kind_t */
  int32_t reserved;
  int64_t sink, local;
  int64_t vertical, slash, last_q; /* last_q 0: 64 */
  int64_t top_k;
} minfer_head_pattern_t;

typedef struct minfer_runtime *minfer_runtime_t;

/* Options of minfer_sparse_attention_ex; all zero: minfer_sparse_attention. */
typedef struct minfer_run_options {
  /* Automatic dense fallback: when the pattern keeps at least this fraction
   * of the causal work (0: off; minfer-bench runs 0.9), the dense kernel runs
   * instead, faster at such densities. Up to 32768 tokens the fraction is
   * bounded from the budgets alone; above, when that bound cannot rule it
   * out, it is counted on the call's own index (the call then waits for the
   * stream once per head chunk). Must lie in [0, 1]. */
  double dense_fallback;
  int32_t timing;     /* nonzero: stage times in the stats (waits) */
  int32_t count_kept; /* nonzero: kept pairs and density in the stats (waits) */
} minfer_run_options_t;

/* What one minfer_sparse_attention_ex call did; filled on success only. */
typedef struct minfer_run_stats {
  int32_t dense_fallback; /* 1: the dense kernel ran instead of the patterns */
  int32_t reserved;
  int64_t chunks;          /* head chunks (launch groups) */
  int64_t index_builds;    /* chunk indices built, a fallback's count included */
  int64_t kernel_launches; /* attention kernel launches */
  double kept_pairs;       /* count_kept: query-key pairs the mask keeps */
  double density;          /* count_kept: kept_pairs / (B H N (N + 1) / 2) */
  float estimate_ms, index_ms, kernel_ms; /* timing: device ms per stage */
  char attention_kernel[68]; /* the kernel's symbol, NUL-terminated */
} minfer_run_stats_t;

/* "Ok", "InvalidArgument", ... */
const char *minfer_status_name(minfer_status_t status);
/* Message of this thread's last failing call ("" if none). */
const char *minfer_last_error_message(void);

/* ptx_dir: attention-kernel PTX directory; NULL or "": $MINFER_PTX_DIR, else
 * the compiled-in default. MINFER_NO_DEVICE without a driver or GPU. */
minfer_status_t minfer_runtime_create(minfer_runtime_t *out, int device,
                                      const char *ptx_dir);
minfer_status_t minfer_runtime_destroy(minfer_runtime_t rt);

/* Registers in-memory PTX of the attention kernel (kind 0 dense, 1 block,
 * 2 vs) for dtype and head_dim (64 or 128), with the kind's tuned tile configuration for
 * the chip its ".target" line names (the device's if none): what
 * minfer-generate-kernels emits by default (64-row CTAs; sm_80/sm_90: 3 K/V
 * stages for vs, 2 otherwise; sm_90a: 2 for dense, 1 otherwise) unless the
 * PTX has a "// minfer-tile-config: block_m=.. warps=.. stages=.." line. */
minfer_status_t minfer_add_kernel_ptx(minfer_runtime_t rt, int32_t kernel_kind,
                                      int32_t dtype, int64_t head_dim,
                                      const char *ptx);

/* Mixed per-head patterns (num_patterns == heads) in one call. */
minfer_status_t minfer_sparse_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t batch, int64_t heads, int64_t kv_heads, int64_t seq_len,
    int64_t head_dim, int32_t dtype, float scale,
    const minfer_head_pattern_t *patterns, int64_t num_patterns, void *stream);

/* The same with options (NULL: the defaults) and stats (NULL: none). */
minfer_status_t minfer_sparse_attention_ex(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t batch, int64_t heads, int64_t kv_heads, int64_t seq_len,
    int64_t head_dim, int32_t dtype, float scale,
    const minfer_head_pattern_t *patterns, int64_t num_patterns,
    const minfer_run_options_t *options, minfer_run_stats_t *stats,
    void *stream);

/* MInference's vertical_slash_sparse_attention: v_idx [B, H, nnz_v] vertical
 * key columns, s_idx [B, H, nnz_s] slash offsets o = i - j (MInference sorts
 * them descending; any order works), int32 device arrays. Duplicates and
 * values outside [0, seq_len) are ignored. */
minfer_status_t minfer_vertical_slash_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    const int32_t *v_idx, const int32_t *s_idx, int64_t nnz_v, int64_t nnz_s,
    int64_t batch, int64_t heads, int64_t kv_heads, int64_t seq_len,
    int64_t head_dim, int32_t dtype, float scale, void *stream);

/* MInference's block_sparse_attention: per query block the top_k pooled key
 * blocks (estimated on the GPU). */
minfer_status_t minfer_block_sparse_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t top_k, int64_t batch, int64_t heads, int64_t kv_heads,
    int64_t seq_len, int64_t head_dim, int32_t dtype, float scale,
    void *stream);

/* MInference's streaming_forward (A-shape): the first init_num tokens plus a
 * local window of local_window_num tokens, at 64-row block granularity (query
 * block m sees keys [max(0, 64 m - local + 1), end of block m)). */
minfer_status_t minfer_streaming_attention(
    minfer_runtime_t rt, const void *q, const void *k, const void *v, void *out,
    int64_t init_num, int64_t local_window_num, int64_t batch, int64_t heads,
    int64_t kv_heads, int64_t seq_len, int64_t head_dim, int32_t dtype,
    float scale, void *stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MINFER_MINFER_H */
