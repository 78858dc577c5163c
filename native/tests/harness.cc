// Runs every registered test and reports failures; exit status is the number of failed tests.
#include "harness.h"

#include <cstdio>

namespace harness {
namespace {

struct Entry {
  const char* name;
  void (*fn)();
};

std::vector<Entry>& registry() {
  static std::vector<Entry> tests;
  return tests;
}

}  // namespace

Registrar::Registrar(const char* name, void (*fn)()) { registry().push_back({name, fn}); }

}  // namespace harness

int main(int argc, char** argv) {
  int failed = 0, ran = 0;
  for (const auto& t : harness::registry()) {
    if (argc > 1 && !std::strstr(t.name, argv[1])) continue;
    ++ran;
    try {
      t.fn();
    } catch (const harness::Failure& f) {
      ++failed;
      std::printf("FAIL %s\n  %s\n", t.name, f.message.c_str());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL %s\n  unexpected exception: %s\n", t.name, e.what());
    }
  }
  std::printf("%d/%d tests passed\n", ran - failed, ran);
  return failed == 0 ? 0 : 1;
}
