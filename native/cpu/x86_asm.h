// A small x86-64 assembler for the elementwise JIT (jit.cc): the general-purpose instructions of a
// counted loop and the AVX-512F instructions of float32 arithmetic, written as bytes into a buffer.
// Only what the JIT emits is here; each encoder follows the Intel SDM's opcode tables (EVEX for the
// vector instructions). Vector memory operands always use a 32-bit displacement (or none), so the
// EVEX compressed-displacement rule never applies.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace metalgrad::cpu::x86 {

// General-purpose registers by encoding.
enum Gpr : uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };

// A memory operand: [base + index * scale + disp], or [rip + pool offset] when rip is set.
struct Mem {
  Gpr base = rax;
  bool has_index = false;
  Gpr index = rax;
  uint8_t scale_log2 = 0;
  int32_t disp = 0;
  bool rip = false;          // pool-relative: disp is an offset into the constant pool
  bool broadcast = false;    // EVEX {1to16}: one float32 broadcast to every lane
};

inline Mem at(Gpr base, int32_t disp = 0) { return Mem{base, false, rax, 0, disp, false, false}; }
inline Mem at_index4(Gpr base, Gpr index) { return Mem{base, true, index, 2, 0, false, false}; }
inline Mem at_index1(Gpr base, Gpr index) { return Mem{base, true, index, 0, 0, false, false}; }
// A float32 of the constant pool broadcast to all lanes (or loaded as a scalar by broadcasts).
inline Mem pool_f32(int32_t offset) { return Mem{rax, false, rax, 0, offset, true, true}; }

// Condition codes of jcc.
enum Cond : uint8_t { kGreaterEqual = 0xD, kGreater = 0xF };

// EVEX opcode maps and implied prefixes.
enum Map : uint8_t { k0F = 1, k0F38 = 2, k0F3A = 3 };
enum Pre : uint8_t { kNone = 0, k66 = 1, kF3 = 2, kF2 = 3 };

// Predicates of vcmpps (the _CMP_* values of immintrin.h).
enum CmpPred : uint8_t {
  kEqOq = 0x00, kUnordQ = 0x03, kNeqUq = 0x04, kLtOq = 0x11, kLeOq = 0x12, kGeOq = 0x1D, kGtOq = 0x1E,
};

class Assembler {
 public:
  struct Label {
    int64_t pos = -1;
    std::vector<size_t> uses;  // positions of rel32 fields to patch
  };

  const std::vector<uint8_t>& code() const { return code_; }
  size_t size() const { return code_.size(); }

  // ---- general-purpose ----
  void push(Gpr r) { rex_b_only(r); byte(0x50 + (r & 7)); }
  void pop(Gpr r) { rex_b_only(r); byte(0x58 + (r & 7)); }
  void ret() { byte(0xC3); }
  void vzeroupper() { bytes({0xC5, 0xF8, 0x77}); }
  // mov dst, qword [base + disp]
  void mov_load(Gpr dst, Mem m) { legacy_mem(0x8B, dst, m, true); }
  // lea dst, [base + disp]
  void lea(Gpr dst, Mem m) { legacy_mem(0x8D, dst, m, true); }
  void mov_rr(Gpr dst, Gpr src, bool wide) { legacy_rr(0x89, src, dst, wide); }
  void add_rr(Gpr dst, Gpr src) { legacy_rr(0x01, src, dst, true); }
  void sub_rr(Gpr dst, Gpr src, bool wide) { legacy_rr(0x29, src, dst, wide); }
  void xor_rr32(Gpr dst, Gpr src) { legacy_rr(0x31, src, dst, false); }
  // cmp a, b (flags of a - b)
  void cmp_rr(Gpr a, Gpr b) { legacy_rr(0x39, b, a, true); }
  void add_imm8(Gpr r, int8_t imm) { rex(true, 0, r); byte(0x83); modrm(3, 0, r); byte(static_cast<uint8_t>(imm)); }
  void mov_imm32(Gpr r, uint32_t imm) { rex_b_only(r); byte(0xB8 + (r & 7)); u32(imm); }
  void shl_cl32(Gpr r) { rex_b_only(r); byte(0xD3); modrm(3, 4, r); }
  void dec32(Gpr r) { rex_b_only(r); byte(0xFF); modrm(3, 1, r); }
  // kmovw k, r32 (VEX.L0.0F.W0 92 /r)
  void kmovw(int k, Gpr r) {
    byte(0xC4);
    byte(static_cast<uint8_t>(0xC0 | ((r & 8) ? 0 : 0x20) | 0x01));  // R X B inverted, map 0F
    byte(0x78);  // W0, vvvv = 1111, L0, pp = none
    byte(0x92);
    modrm(3, k, r);
  }
  void jmp(Label& l) { byte(0xE9); rel32(l); }
  void jcc(Cond c, Label& l) { byte(0x0F); byte(0x80 | c); rel32(l); }
  void bind(Label& l) {
    l.pos = static_cast<int64_t>(code_.size());
    for (size_t use : l.uses) patch_rel32(use, l.pos);
    l.uses.clear();
  }

  // ---- AVX-512F (zmm registers 0-31, opmask registers 0-7; mask 0 = none) ----
  // A register-register instruction: dst = op(src1, src2) with EVEX.vvvv = src1 and ModRM.rm = src2.
  void evex_rrr(Map map, Pre pre, uint8_t opcode, int dst, int src1, int src2, int mask = 0, bool zero = false) {
    evex(map, pre, false, dst, src1, src2 & 8, src2 & 16, false, mask, zero);
    byte(opcode);
    modrm(3, dst, src2);
  }
  // The same with a memory operand in ModRM.rm.
  void evex_rrm(Map map, Pre pre, uint8_t opcode, int dst, int src1, const Mem& m, int mask = 0, bool zero = false, int imm_bytes = 0) {
    const bool x = m.has_index && (m.index & 8);
    evex(map, pre, false, dst, src1, m.rip ? 0 : (m.base & 8), x ? 8 : 0, m.broadcast, mask, zero);
    byte(opcode);
    mem_modrm(dst, m, imm_bytes);
  }

  void vmovups_load(int dst, const Mem& m, int mask = 0) { evex_rrm(k0F, kNone, 0x10, dst, 0, m, mask, mask != 0); }
  void vmovups_store(const Mem& m, int src, int mask = 0) { evex_rrm(k0F, kNone, 0x11, src, 0, m, mask); }
  void vmovntps(const Mem& m, int src) { evex_rrm(k0F, kNone, 0x2B, src, 0, m); }
  void vmovaps(int dst, int src, int mask = 0) { evex_rrr(k0F, kNone, 0x28, dst, 0, src, mask); }
  void vbroadcastss(int dst, const Mem& m, int mask = 0) { Mem s = m; s.broadcast = false; evex_rrm(k0F38, k66, 0x18, dst, 0, s, mask); }
  // 16 bytes zero-extended to 16 dwords (masked lanes zero and are not read).
  void vpmovzxbd(int dst, const Mem& m, int mask = 0) { evex_rrm(k0F38, k66, 0x31, dst, 0, m, mask, mask != 0); }
  // The low byte of each of 16 dwords stored as 16 bytes (masked lanes not written).
  void vpmovdb_store(const Mem& m, int src, int mask = 0) { evex_rrm(k0F38, kF3, 0x31, src, 0, m, mask); }
  void vpbroadcastd_z(int dst, const Mem& m, int mask) { Mem s = m; s.broadcast = false; evex_rrm(k0F38, k66, 0x58, dst, 0, s, mask, true); }

  // Two-source arithmetic: dst = src1 op src2 (src2 a register or a broadcast pool constant).
  void ps(uint8_t opcode, int dst, int src1, int src2) { evex_rrr(k0F, kNone, opcode, dst, src1, src2); }
  // With a mask, lanes outside it keep dst's value (merge masking).
  void ps(uint8_t opcode, int dst, int src1, const Mem& m, int mask = 0) { evex_rrm(k0F, kNone, opcode, dst, src1, m, mask); }
  void pd66(uint8_t opcode, int dst, int src1, int src2) { evex_rrr(k0F, k66, opcode, dst, src1, src2); }
  void pd66(uint8_t opcode, int dst, int src1, const Mem& m) { evex_rrm(k0F, k66, opcode, dst, src1, m); }
  // FMA (66 0F38, W0): 213 dst = src1*dst + src2; 231 dst = src1*src2 + dst.
  void fma(uint8_t opcode, int dst, int src1, int src2) { evex_rrr(k0F38, k66, opcode, dst, src1, src2); }
  void fma(uint8_t opcode, int dst, int src1, const Mem& m) { evex_rrm(k0F38, k66, opcode, dst, src1, m); }

  void vsqrtps(int dst, int src) { evex_rrr(k0F, kNone, 0x51, dst, 0, src); }
  void vcvtps2dq(int dst, int src) { evex_rrr(k0F, k66, 0x5B, dst, 0, src); }
  void vcvtdq2ps(int dst, int src) { evex_rrr(k0F, kNone, 0x5B, dst, 0, src); }
  void vrndscaleps(int dst, int src, uint8_t imm) { evex_rrr(k0F3A, k66, 0x08, dst, 0, src); byte(imm); }
  // Shifts by an immediate (66 0F 72 /n ib): the destination is EVEX.vvvv, the source ModRM.rm.
  void vpslld(int dst, int src, uint8_t n) { shift_imm(6, dst, src, n); }
  void vpsrad(int dst, int src, uint8_t n) { shift_imm(4, dst, src, n); }
  void vpsrld(int dst, int src, uint8_t n) { shift_imm(2, dst, src, n); }
  void vcmpps(int k, int src1, int src2, CmpPred p) { evex_rrr(k0F, kNone, 0xC2, k, src1, src2); byte(p); }
  void vcmpps(int k, int src1, const Mem& m, CmpPred p) { evex_rrm(k0F, kNone, 0xC2, k, src1, m, 0, false, 1); byte(p); }
  // dst = k ? src2 : src1, lane by lane.
  void vblendmps(int dst, int k, int src1, int src2) { evex_rrr(k0F38, k66, 0x65, dst, src1, src2, k); }
  // k = (a & b) != 0, lane by lane.
  void vptestmd(int k, int a, int b) { evex_rrr(k0F38, k66, 0x27, k, a, b); }

  // Patches every RIP-relative pool reference for a pool placed at code offset `pool_pos`.
  void link_pool(size_t pool_pos) {
    for (const PoolUse& u : pool_uses_) {
      const int64_t rel = static_cast<int64_t>(pool_pos) + u.offset - static_cast<int64_t>(u.end_pos);
      const int32_t r = static_cast<int32_t>(rel);
      std::memcpy(&code_[u.disp_pos], &r, 4);
    }
  }

 private:
  struct PoolUse {
    size_t disp_pos;   // where the rel32 displacement is
    size_t end_pos;    // end of the instruction (after any immediate)
    int32_t offset;    // pool offset
  };
  std::vector<uint8_t> code_;
  std::vector<PoolUse> pool_uses_;

 private:
  void byte(uint8_t b) { code_.push_back(b); }
  void bytes(std::initializer_list<uint8_t> bs) { code_.insert(code_.end(), bs); }
  void u32(uint32_t v) { for (int i = 0; i < 4; ++i) byte(static_cast<uint8_t>(v >> (8 * i))); }
  void modrm(int mod, int reg, int rm) { byte(static_cast<uint8_t>((mod << 6) | ((reg & 7) << 3) | (rm & 7))); }
  void rex(bool w, int reg, int rm) {
    const uint8_t b = static_cast<uint8_t>(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm & 8) ? 1 : 0));
    if (b != 0x40) byte(b);
  }
  void rex_b_only(Gpr r) { if (r & 8) byte(0x41); }
  // op r/m, reg form with a register r/m.
  void legacy_rr(uint8_t opcode, Gpr reg, Gpr rm, bool wide) { rex(wide, reg, rm); byte(opcode); modrm(3, reg, rm); }
  void legacy_mem(uint8_t opcode, Gpr reg, const Mem& m, bool wide) {
    const uint8_t b = static_cast<uint8_t>(0x40 | (wide ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((m.base & 8) ? 1 : 0));
    if (b != 0x40) byte(b);
    byte(opcode);
    mem_modrm(reg, m, 0);
  }
  // ModRM (+ SIB + displacement) of a memory operand. Displacements are 0 bytes or 4 (mod 10).
  void mem_modrm(int reg, const Mem& m, int imm_bytes) {
    if (m.rip) {
      modrm(0, reg, 5);
      pool_uses_.push_back({code_.size(), code_.size() + 4 + static_cast<size_t>(imm_bytes), m.disp});
      u32(0);
      return;
    }
    const bool need_sib = m.has_index || (m.base & 7) == rsp;
    const bool need_disp = m.disp != 0 || (m.base & 7) == rbp;
    const int mod = need_disp ? 2 : 0;
    if (need_sib) {
      modrm(mod, reg, 4);
      const int index = m.has_index ? (m.index & 7) : 4;
      byte(static_cast<uint8_t>((m.scale_log2 << 6) | (index << 3) | (m.base & 7)));
    } else {
      modrm(mod, reg, m.base);
    }
    if (need_disp) u32(static_cast<uint32_t>(m.disp));
  }
  // The four-byte EVEX prefix of a 512-bit instruction. `reg` is ModRM.reg (a zmm or opmask), `vvvv`
  // the extra source, b3 / x3 the high bits of ModRM.rm's base (or register) and index (or the
  // register's bit 4).
  void evex(Map map, Pre pre, bool w, int reg, int vvvv, int b3, int x3, bool bcast, int mask, bool zero) {
    byte(0x62);
    byte(static_cast<uint8_t>(((reg & 8) ? 0 : 0x80) | (x3 ? 0 : 0x40) | (b3 ? 0 : 0x20) | ((reg & 16) ? 0 : 0x10) | map));
    byte(static_cast<uint8_t>((w ? 0x80 : 0) | ((~vvvv & 15) << 3) | 0x04 | pre));
    byte(static_cast<uint8_t>((zero ? 0x80 : 0) | 0x40 | (bcast ? 0x10 : 0) | ((vvvv & 16) ? 0 : 0x08) | (mask & 7)));
  }
  void shift_imm(int ext, int dst, int src, uint8_t n) {
    evex(k0F, k66, false, ext, dst, src & 8, src & 16, false, 0, false);
    byte(0x72);
    modrm(3, ext, src);
    byte(n);
  }
  void rel32(Label& l) {
    const size_t at = code_.size();
    u32(0);
    if (l.pos >= 0) patch_rel32(at, l.pos);
    else l.uses.push_back(at);
  }
  void patch_rel32(size_t at, int64_t target) {
    const int32_t rel = static_cast<int32_t>(target - static_cast<int64_t>(at + 4));
    std::memcpy(&code_[at], &rel, 4);
  }
};

}  // namespace metalgrad::cpu::x86
