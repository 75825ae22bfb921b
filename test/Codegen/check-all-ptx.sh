#!/usr/bin/env bash
# Generates every kernel variant through minfer-to-ptx, assembles each PTX with
# `ptxas -v` and prints its registers / shared memory / spills:
#   3 kinds x D 64|96|128 x bf16|f16 x sm_80|sm_90|sm_90a = 54 kernels
#   (64-row CTAs), plus the 128-row dense variants (dense-block-m=128) x 3
#   chips, the 6 mid-sequence vertical-slash kernels of sm_90a
#   (minfer_vs_kv_*) and the 12 paired-query-block block-sparse kernels of
#   sm_90a (block-block-m=128 and 192: a producer warp, or warpgroup, feeding
#   a TMA + mbarrier ring) and the 6 paired vertical-slash kernels
#   (vs-block-m=192).
#   sm_90a kernels use wgmma; ptxas must not serialize them, and each matrix
#   descriptor must mask its start address to 14 bits; the paired kernels
#   read their warpgroup index through redux.sync (a warp-uniform value).
# Fails if ptxas rejects a kernel or if a D = 96 or 128 kernel spills -- except a
# kernel with an occupancy request (.minnctapersm, kernel::tunedFor: block),
# which trades at most 64 bytes of spills for a third CTA per SM.
#
# usage: check-all-ptx.sh MINFER_OPT PTXAS OUT_DIR
# The PTX stays in OUT_DIR/<kernel>.<chip>.ptx (what the runtime loads).
set -u
opt=$1 ptxas=$2 out=$3
rm -rf "$out" && mkdir -p "$out" || exit 1

status=0
for chip in sm_80 sm_90 sm_90a; do
  gens=("minfer-generate-kernels{chip=$chip}"
        "minfer-generate-kernels{kinds=dense dense-block-m=128 chip=$chip}")
  # Paired-query-block (128- and 192-row) block-sparse kernels need wgmma.
  [ "$chip" = sm_90a ] &&
    gens+=("minfer-generate-kernels{kinds=block block-block-m=128 chip=$chip}"
           "minfer-generate-kernels{kinds=block block-block-m=192 chip=$chip}"
           "minfer-generate-kernels{kinds=vs vs-block-m=192 chip=$chip}")
  for gen in "${gens[@]}"; do
    if ! echo 'module {}' | "$opt" - -o /dev/null \
        --pass-pipeline="builtin.module($gen, minfer-to-ptx{chip=$chip}, minfer-dump-ptx{dir=$out})"; then
      echo "FAIL: minfer-opt ($gen, chip $chip)"
      status=1
    fi
  done
done

count=0
printf '%-30s %-6s %5s %9s %9s %12s %12s\n' kernel chip regs "dyn-smem" "st-smem" "spill-st(B)" "spill-ld(B)"
for ptx in "$out"/*.ptx; do
  [ -e "$ptx" ] || { echo "FAIL: no PTX generated"; exit 1; }
  base=$(basename "$ptx" .ptx)          # <kernel>.<chip>
  kernel=${base%.*} chip=${base##*.}
  if ! log=$("$ptxas" -arch="$chip" -v "$ptx" -o "$out/$base.cubin" 2>&1); then
    echo "$log"
    echo "FAIL: ptxas rejected $base"
    status=1
    continue
  fi
  regs=$(sed -n 's/.*Used \([0-9]*\) registers.*/\1/p' <<<"$log")
  smem=$(sed -n 's/.*registers.* \([0-9]*\) bytes smem.*/\1/p' <<<"$log")
  st=$(sed -n 's/.* \([0-9]*\) bytes spill stores.*/\1/p' <<<"$log")
  ld=$(sed -n 's/.* \([0-9]*\) bytes spill loads.*/\1/p' <<<"$log")
  # Dynamic shared memory the launch passes: TileConfig::sharedBytes() with
  # the tuned stages. mma.sync: 2 x stages x 64 rows (+ 128 Q rows for
  # 128-row CTAs; 3 stages for vs) x (D + 8) x 2 bytes. wgmma: swizzled Q
  # (blockM x D x 2) + (K + V stages) x 64 x D x 2 (2 + 2 for dense and
  # the _s2 long-sequence kernels, 6 + 6 for the paired 128-row block
  # kernels, 4 + 7 for the 192-row ones, else 1 + 1; the paired kernels'
  # ring control not counted).
  d=${kernel##*_d}; d=${d%%_*}
  [ "$d" -gt 64 ] && d=128  # tiles are whole 64-column panels (tileDim)
  rows=256; [[ $kernel == *_m128_* || $kernel == minfer_vs_* ]] && rows=384
  dyn=$((rows * (d + 8) * 2))
  if [ "$chip" = sm_90a ]; then
    m=64; [[ $kernel == *_m128_* ]] && m=128; [[ $kernel == *_m192_* ]] && m=192
    stg=1; [[ $kernel == minfer_dense_* || $kernel == *_s2_* ]] && stg=2
    vstg=$stg
    [[ $kernel == minfer_block_m128_* ]] && stg=6 vstg=6
    [[ $kernel == minfer_block_m192_* || $kernel == minfer_vs_m192_* ]] && stg=4 vstg=7
    dyn=$((m * d * 2 + (stg + vstg) * 64 * d * 2))
    if grep -q "wgmma serialization" <<<"$log"; then
      echo "$log"
      echo "FAIL: ptxas serialized the wgmma of $base"
      status=1
    fi
    # Every matrix descriptor takes only address bits 4-17 (bfe 4, 14): a
    # cluster rank sets bit 24 of shared addresses (descriptorAt's comment).
    descs=$(grep -c -E 'or\.b64 .*, 46116[0-9]{14};' "$ptx")
    masked=$(grep -B1 -E 'or\.b64 .*, 46116[0-9]{14};' "$ptx" | grep -c -E 'bfe\.u64 .*, 4, 14;')
    if [ "$descs" -eq 0 ] || [ "$masked" -ne "$descs" ]; then
      echo "FAIL: $base: $masked of $descs wgmma descriptors mask their start address"
      status=1
    fi
    # Paired kernels take their warpgroup index through redux.sync (a
    # warp-uniform value: the block's coordinates stay in uniform registers).
    if [[ $kernel == minfer_block_m* || $kernel == minfer_vs_m* ]] &&
        ! grep -q 'redux\.sync\.max\.u32' "$ptx"; then
      echo "FAIL: $base: the warpgroup index does not go through redux.sync"
      status=1
    fi
  fi
  printf '%-30s %-6s %5s %9s %9s %12s %12s\n' "$kernel" "$chip" "$regs" \
    "$dyn" "${smem:-0}" "$st" "$ld"
  maxSpill=0; grep -q '^\.minnctapersm' "$ptx" && maxSpill=64
  if [[ $kernel == *_d128_* || $kernel == *_d96_* ]] && { [ "${st:-999}" -gt $maxSpill ] || [ "${ld:-999}" -gt $maxSpill ]; }; then
    echo "FAIL: $base spills more than $maxSpill bytes (D = 96 or 128)"
    status=1
  fi
  count=$((count + 1))
done
echo "$count kernels assembled (dynamic shared memory: TileConfig::sharedBytes())"
if [ "$count" -lt 96 ]; then
  echo "FAIL: expected 96 kernels (54 + 18 dense-block-m=128 + 6 vs_kv + 6 block m128 + 6 block m192 + 6 vs m192), got $count"
  status=1
fi
exit $status
