// @file Hand-written tiled matrix multiply for the Metal backend: C[p] = A[p] @ B[p] for float32 and
// int32 over any element strides (a transposed operand is read in place). Each threadgroup of 256
// threads computes one 64x64 tile of C: it stages 64x16 slices of A and 16x64 slices of B in
// threadgroup memory, and each thread accumulates a 4x4 block of C in registers (rows ty + 16r,
// columns tx + 16q, so neighbouring threads read neighbouring tile columns). Edges are zero-padded in
// the staged slices and masked at the store. Generated entry points (lib/compiler/msl-matmul.ts)
// call `mg_matmul` with their shape and strides as constants and a store hook, bind the two tiles at
// [[threadgroup(0)]] and [[threadgroup(1)]] (4 KiB each for 4-byte elements) and launch one
// threadgroup per tile of C. The hook is a function object, `store(p, i, j, value)`, called once for
// each element C[p, i, j] by the thread that accumulated it: it writes the element wherever C lives
// and runs the kernel's epilogue on it.
// Baseline MSL only (threadgroup memory and barriers), so it runs on every Apple GPU family.
#ifndef MG_MATMUL_METAL
#define MG_MATMUL_METAL

// Shape of one matmul, C [batch, m, n] = A [batch, m, k] @ B [batch, k, n], and element strides of
// A and B (C's are the store hook's).
struct MgMatmul {
  int batch, m, n, k;
  int a_offset, a_sb, a_sm, a_sk;
  int b_offset, b_sb, b_sk, b_sn;
};

constant int MG_MM_TILE = 64;     // rows and columns of C per threadgroup
constant int MG_MM_DEPTH = 16;    // steps of k staged at a time
constant int MG_MM_THREADS = 256; // threads per threadgroup: 16 x 16, each owning 4 x 4 elements of C

// float32 accumulates with fused multiply-adds, as the CPU GEMM does; int32 wraps.
inline float mg_madd(float acc, float a, float b) { return fma(a, b, acc); }
inline int mg_madd(int acc, int a, int b) { return mg_add(acc, mg_mul(a, b)); }

template <typename T, typename Store>
inline void mg_matmul(device const T* a, device const T* b, const MgMatmul s, threadgroup T* a_tile,
                      threadgroup T* b_tile, uint group, uint tid, const Store store) {
  const int tiles_n = (s.n + MG_MM_TILE - 1) / MG_MM_TILE;
  const int tiles_m = (s.m + MG_MM_TILE - 1) / MG_MM_TILE;
  const int p = int(group) / (tiles_m * tiles_n);
  const int i0 = int(group) / tiles_n % tiles_m * MG_MM_TILE;
  const int j0 = int(group) % tiles_n * MG_MM_TILE;
  const int ty = int(tid) / 16;
  const int tx = int(tid) % 16;
  device const T* a_p = a + s.a_offset + p * s.a_sb;
  device const T* b_p = b + s.b_offset + p * s.b_sb;
  T acc[4][4];
  for (int r = 0; r < 4; ++r) {
    for (int q = 0; q < 4; ++q) acc[r][q] = T(0);
  }
  for (int l0 = 0; l0 < s.k; l0 += MG_MM_DEPTH) {
    // Stage A[i0 + row, l0 + l] at a_tile[l][row] and B[l0 + l, j0 + col] at b_tile[l][col]. Consecutive
    // threads take consecutive elements along the operand's contiguous axis, so loads coalesce.
    for (int e = int(tid); e < MG_MM_TILE * MG_MM_DEPTH; e += MG_MM_THREADS) {
      const int row = s.a_sk == 1 ? e / MG_MM_DEPTH : e % MG_MM_TILE;
      const int la = s.a_sk == 1 ? e % MG_MM_DEPTH : e / MG_MM_TILE;
      const bool a_in = i0 + row < s.m && l0 + la < s.k;
      a_tile[la * MG_MM_TILE + row] = a_in ? a_p[(i0 + row) * s.a_sm + (l0 + la) * s.a_sk] : T(0);
      const int col = s.b_sn == 1 ? e % MG_MM_TILE : e / MG_MM_DEPTH;
      const int lb = s.b_sn == 1 ? e / MG_MM_TILE : e % MG_MM_DEPTH;
      const bool b_in = l0 + lb < s.k && j0 + col < s.n;
      b_tile[lb * MG_MM_TILE + col] = b_in ? b_p[(l0 + lb) * s.b_sk + (j0 + col) * s.b_sn] : T(0);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (int l = 0; l < MG_MM_DEPTH; ++l) {
      T av[4];
      T bv[4];
      for (int r = 0; r < 4; ++r) av[r] = a_tile[l * MG_MM_TILE + ty + 16 * r];
      for (int q = 0; q < 4; ++q) bv[q] = b_tile[l * MG_MM_TILE + tx + 16 * q];
      for (int r = 0; r < 4; ++r) {
        for (int q = 0; q < 4; ++q) acc[r][q] = mg_madd(acc[r][q], av[r], bv[q]);
      }
    }
    // Nobody overwrites the tiles until every thread has read them.
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  for (int r = 0; r < 4; ++r) {
    for (int q = 0; q < 4; ++q) {
      const int i = i0 + ty + 16 * r;
      const int j = j0 + tx + 16 * q;
      if (i < s.m && j < s.n) store(p, i, j, acc[r][q]);
    }
  }
}

#endif  // MG_MATMUL_METAL
