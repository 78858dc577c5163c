// @file Main of the Linux MSL test program. The generated translation unit includes this file first
// (before <metal_stdlib>'s macros) and then defines kCases: per case, a function that runs its
// kernels over their grids, and the byte size of each buffer. stdin holds every buffer of every
// case, raw and in order; after running all cases the same buffers go to stdout.
#include <cstdio>
#include <cstdlib>
#include <vector>

struct MgCase {
  void (*run)(char** bufs);
  int nbufs;
  const long* bytes;
};

extern const MgCase kCases[];
extern const int kNumCases;

int main() {
  std::vector<std::vector<std::vector<char>>> data(kNumCases);
  for (int c = 0; c < kNumCases; ++c) {
    for (int b = 0; b < kCases[c].nbufs; ++b) {
      std::vector<char> buf(static_cast<size_t>(kCases[c].bytes[b]));
      if (!buf.empty() && std::fread(buf.data(), 1, buf.size(), stdin) != buf.size()) {
        std::fprintf(stderr, "driver: short input for case %d buffer %d\n", c, b);
        return 2;
      }
      data[c].push_back(std::move(buf));
    }
  }
  for (int c = 0; c < kNumCases; ++c) {
    std::vector<char*> ptrs;
    for (auto& buf : data[c]) ptrs.push_back(buf.data());
    kCases[c].run(ptrs.data());
  }
  for (auto& bufs : data) {
    for (auto& buf : bufs) std::fwrite(buf.data(), 1, buf.size(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 3;
}
