// Constants of the vectorised float32 math (vecmath_impl.h), shared with the JIT (jit.cc), which
// emits the same algorithms as machine code and must use the same coefficients to give the same bits.
#pragma once

#include <cstddef>

namespace metalgrad::cpu::vecmath {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;           // 9 significant bits: n * kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;        // ln 2 - kLn2Hi
constexpr float kInf = __builtin_huge_valf();

// exp(r) = 1 + r + r^2 P(r) on |r| <= ln2/2 (relative error 4e-9).
constexpr float kExpP[] = {0.49999994f, 0.166665211f, 0.041668389f, 0.00836871006f, 0.00138146116f};
// expm1(r) = r + r^2 P(r) on |r| <= ln2/2 (relative error 2e-9).
constexpr float kExpm1P[] = {0.5f, 0.166666657f, 0.0416663624f, 0.00833338965f, 0.00139406172f,
                             0.000198458773f};
// log1p(f) = f + f^2 Q(f) on [sqrt(1/2)-1, sqrt(2)-1] (relative error 5e-9).
constexpr float kLogQ[] = {-0.499999881f, 0.333333254f, -0.250015855f, 0.200019851f, -0.166090563f,
                           0.141816333f, -0.132429853f, 0.129055157f, -0.0762306824f};
// tanh(x) = x + x^3 P(x^2) on |x| < 0.625 (relative error 3e-9).
constexpr float kTanhP[] = {-0.333333313f, 0.133332059f, -0.0539467633f, 0.0217007007f, -0.00817739312f,
                            0.00214295718f};
// sin(r) = r + r^3 S(r^2), cos(r) = 1 - r^2/2 + r^4 C(r^2) on |r| <= pi/4.
constexpr float kSinS[] = {-0.166666552f, 0.0083321603f, -0.00019515281f};
constexpr float kCosC[] = {0.0416666456f, -0.00138873165f, 2.4433155e-05f};
// pi/2 as four parts; the first three have 12 significant bits, so j * part is exact for j < 2^12.
constexpr float kPio2[] = {1.570800781e+00f, -4.453584552e-06f, -8.706138033e-10f, 6.223371970e-14f};
constexpr float kTwoOverPi = 6.366197724e-01f;
constexpr float kTrigFastMax = 6000.0f;  // beyond: libm in double, lane by lane
// erf(x) = x + x Q(x^2) on |x| < 1.125 (relative error 1e-8).
constexpr float kErfSplit = 1.125f;
constexpr float kErfQ[] = {0.128379166f, -0.376125902f, 0.112831771f, -0.0268371068f, 0.00515750237f,
                           -0.000774854212f, 7.0219241e-05f};
// log(erfc(a)) = L(a - 2.5275) on [1.125, 3.93] (erf error 0.1 ulp before rounding).
constexpr float kErfcCenter = 2.5275f;
constexpr float kErfcL[] = {-7.95472813f, -5.40461922f, -0.944777787f, -0.010618424f, 0.00210897136f,
                            -0.000419450633f, 5.86317437e-05f, -2.14670017e-05f};

}  // namespace metalgrad::cpu::vecmath
