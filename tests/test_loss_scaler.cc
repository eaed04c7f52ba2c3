// Dynamic loss scaling: growth after a run of clean steps, back-off and a
// skipped step on overflow, the bounds, the config checks, and why it exists
// (a gradient below fp16's range survives only scaled).
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/reference/convert_ref.h"
#include "optim/loss_scaler.h"

namespace cpu_llm {
namespace {

TEST(LossScaler, DoublesAfterTheGrowthIntervalOfCleanSteps) {
  DynamicLossScaler s;
  EXPECT_EQ(s.scale(), 65536.0f);
  for (int i = 0; i < 1999; i++) ASSERT_TRUE(s.Update(true));
  EXPECT_EQ(s.scale(), 65536.0f);
  EXPECT_TRUE(s.Update(true));
  EXPECT_EQ(s.scale(), 131072.0f);
  EXPECT_EQ(s.clean_steps(), 0);
  EXPECT_EQ(s.skipped_steps(), 0);
}

TEST(LossScaler, OverflowSkipsTheStepHalvesTheScaleAndRestartsTheCount) {
  DynamicLossScaler s;
  for (int i = 0; i < 1500; i++) s.Update(true);
  EXPECT_FALSE(s.Update(false));
  EXPECT_EQ(s.scale(), 32768.0f);
  EXPECT_EQ(s.skipped_steps(), 1);
  for (int i = 0; i < 1999; i++) s.Update(true);
  EXPECT_EQ(s.scale(), 32768.0f);  // the 1500 before the overflow do not count
  s.Update(true);
  EXPECT_EQ(s.scale(), 65536.0f);
}

TEST(LossScaler, StaysWithinItsBounds) {
  LossScalerConfig c;
  c.initial_scale = 4.0f;
  c.min_scale = 1.0f;
  c.max_scale = 8.0f;
  c.growth_interval = 1;
  ASSERT_TRUE(ValidateLossScalerConfig(c).ok());
  DynamicLossScaler s(c);
  for (int i = 0; i < 5; i++) s.Update(false);
  EXPECT_EQ(s.scale(), 1.0f);
  EXPECT_EQ(s.skipped_steps(), 5);
  for (int i = 0; i < 5; i++) s.Update(true);
  EXPECT_EQ(s.scale(), 8.0f);
  s.Restore(1e9f, 3, 7);
  EXPECT_EQ(s.scale(), 8.0f);
  EXPECT_EQ(s.clean_steps(), 3);
  EXPECT_EQ(s.skipped_steps(), 7);
}

TEST(LossScaler, ConfigChecksNameTheProblem) {
  LossScalerConfig c;
  EXPECT_TRUE(ValidateLossScalerConfig(c).ok());
  c.growth_interval = 0;
  EXPECT_NE(ValidateLossScalerConfig(c).message().find("interval"), std::string::npos);
  c = LossScalerConfig();
  c.backoff_factor = 1.0f;
  EXPECT_NE(ValidateLossScalerConfig(c).message().find("backoff"), std::string::npos);
  c = LossScalerConfig();
  c.initial_scale = 0.5f;
  EXPECT_NE(ValidateLossScalerConfig(c).message().find("initial"), std::string::npos);
  c = LossScalerConfig();
  c.growth_factor = NAN;
  EXPECT_FALSE(ValidateLossScalerConfig(c).ok());
}

// A gradient of 1e-8 is below fp16's smallest subnormal (2^-24 = 6e-8) and
// is stored as zero; scaled by the default 2^16 it is a normal fp16 number,
// and unscaled in fp32 it comes back to within fp16's relative precision.
TEST(LossScaler, ScalingKeepsSmallGradientsInFp16Range) {
  const float g = 1e-8f;
  EXPECT_EQ(ref::f16_to_f32(ref::f32_to_f16(g)), 0.0f);
  const DynamicLossScaler s;
  const float back = ref::f16_to_f32(ref::f32_to_f16(g * s.scale())) / s.scale();
  EXPECT_NEAR(back, g, g * std::ldexp(1.0, -11));
}

}  // namespace
}  // namespace cpu_llm
