// A tiny self-registering test harness: TEST(name) { CHECK(...); } and a main that runs them all.
#pragma once

#include <cmath>
#include <cstring>
#include <exception>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace harness {

struct Failure {
  std::string message;
};

struct Registrar {
  Registrar(const char* name, void (*fn)());
};

template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  return s.str();
}

[[noreturn]] inline void fail(const char* file, int line, const std::string& msg) {
  throw Failure{cat(file, ":", line, ": ", msg)};
}

// Equal, treating two NaNs as equal.
template <class A, class B>
bool same(const A& a, const B& b) {
  if constexpr (std::is_floating_point_v<A> || std::is_floating_point_v<B>) {
    if (std::isnan(static_cast<double>(a)) && std::isnan(static_cast<double>(b))) return true;
  }
  return a == b;
}

// Small integers print as numbers rather than characters.
template <class T>
auto printable(const T& x) {
  if constexpr (std::is_integral_v<T> && sizeof(T) < sizeof(int)) return static_cast<int>(x);
  else return x;
}

}  // namespace harness

#define TEST(name)                                              \
  static void test_##name();                                    \
  static harness::Registrar registrar_##name(#name, test_##name); \
  static void test_##name()

#define CHECK(cond) \
  do { if (!(cond)) harness::fail(__FILE__, __LINE__, "CHECK(" #cond ") failed"); } while (0)

#define CHECK_EQ(a, b)                                                                        \
  do {                                                                                        \
    auto va_ = (a);                                                                           \
    auto vb_ = (b);                                                                           \
    if (!harness::same(va_, vb_))                                                             \
      harness::fail(__FILE__, __LINE__, harness::cat(#a " == " #b ": ", harness::printable(va_), " vs ", harness::printable(vb_))); \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                   \
  do {                                                                                          \
    double va_ = (a), vb_ = (b);                                                                \
    if (!(std::fabs(va_ - vb_) <= (tol)))                                                       \
      harness::fail(__FILE__, __LINE__, harness::cat(#a " ~= " #b ": ", va_, " vs ", vb_));     \
  } while (0)

// Checks that `expr` throws a std::exception whose message contains `substring`.
#define CHECK_THROWS(expr, substring)                                                        \
  do {                                                                                       \
    bool threw_ = false;                                                                     \
    try {                                                                                    \
      expr;                                                                                  \
    } catch (const std::exception& e_) {                                                     \
      threw_ = true;                                                                         \
      if (!std::strstr(e_.what(), substring))                                                \
        harness::fail(__FILE__, __LINE__,                                                    \
                      harness::cat("message \"", e_.what(), "\" lacks \"", substring, "\"")); \
    }                                                                                        \
    if (!threw_) harness::fail(__FILE__, __LINE__, "expected " #expr " to throw");           \
  } while (0)
