// TrainProgress: the status line `train` redraws on a terminal, its ETA, and
// the plain lines it leaves alone elsewhere.
#include "train/train_progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace cpu_llm {
namespace {

// Everything written to a FILE*, read back.
class Captured {
 public:
  Captured() : f_(std::tmpfile()) {}
  ~Captured() { std::fclose(f_); }
  std::FILE* file() { return f_; }
  std::string Text() {
    std::fflush(f_);
    std::string s;
    std::rewind(f_);
    for (int c; (c = std::fgetc(f_)) != EOF;) s.push_back(static_cast<char>(c));
    return s;
  }

 private:
  std::FILE* f_;
};

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) n++;
  return n;
}

TEST(TrainProgress, FormatsDurations) {
  EXPECT_EQ(FormatDuration(0.4), "0 s");
  EXPECT_EQ(FormatDuration(42), "42 s");
  EXPECT_EQ(FormatDuration(185), "3 min 05 s");
  EXPECT_EQ(FormatDuration(2 * 3600 + 7 * 60 + 30), "2 h 07 min");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatDuration(1.0 / 0.0), "?");
}

TEST(TrainProgress, EtaIsThePaceOfThisRunsStepsTimesTheStepsLeft) {
  Captured c;
  TrainProgress p(c.file(), false, 0, 10, 128);
  EXPECT_LT(p.EtaSeconds(), 0);
  EXPECT_EQ(p.Eta(), "");
  p.Step(5, 3.0f, 1000.0);  // 200 ms a step, 5 to go
  EXPECT_DOUBLE_EQ(p.EtaSeconds(), 1.0);
  EXPECT_EQ(p.Eta(), "eta 1 s");
  // A resumed run counts only its own steps: 50 in 5 s, 50 to go.
  TrainProgress resumed(c.file(), false, 100, 200, 128);
  resumed.Step(150, 3.0f, 5000.0);
  EXPECT_DOUBLE_EQ(resumed.EtaSeconds(), 5.0);
  // A time budget that shortens the run shortens the ETA.
  resumed.set_total_steps(160);
  EXPECT_DOUBLE_EQ(resumed.EtaSeconds(), 1.0);
  resumed.Step(160, 3.0f, 6000.0);
  EXPECT_DOUBLE_EQ(resumed.EtaSeconds(), 0.0);
}

TEST(TrainProgress, StatusLineHasStepTokensSpeedLossAndEta) {
  Captured c;
  TrainProgress p(c.file(), false, 0, 10, 1000);
  p.Step(5, 2.5f, 2000.0);  // 5000 tokens in 2 s
  EXPECT_EQ(p.StatusLine(), "[##########..........] step 5/10  50% | 0.01 M tokens | 2500 tok/s | loss 2.5000 | eta 2 s");
}

TEST(TrainProgress, NotATerminalGetsThePlainLinesOnly) {
  Captured c;
  TrainProgress p(c.file(), false, 0, 3, 16);
  for (int s = 1; s <= 3; s++) {
    p.Step(s, 1.0f, 100.0 * s);
    p.Print("step " + std::to_string(s) + "\n");
  }
  p.Finish();
  EXPECT_EQ(c.Text(), "step 1\nstep 2\nstep 3\n");
}

TEST(TrainProgress, OnATerminalTheStatusLineStaysBelowTheLog) {
  Captured c;
  TrainProgress p(c.file(), true, 0, 4, 16);
  p.Step(1, 4.0f, 10.0);
  p.Print("checkpoint: x\n");
  p.Step(2, 3.0f, 20.0);  // within 100 ms of the last draw: not redrawn
  p.Step(4, 2.0f, 40.0);  // the last step is always drawn
  p.Finish();
  const std::string text = c.Text();
  // Drawn at step 1, lifted for the log line and drawn again, drawn at
  // step 4, and lifted for good by Finish.
  EXPECT_EQ(Count(text, "\r["), 3u) << text;
  EXPECT_EQ(Count(text, "\r\033[K"), 2u) << text;
  EXPECT_NE(text.find("step 1/4"), std::string::npos);
  EXPECT_EQ(text.find("step 2/4"), std::string::npos);
  EXPECT_NE(text.find("step 4/4 100%"), std::string::npos);
  // The log line starts at the beginning of a cleared line.
  EXPECT_NE(text.find("\r\033[Kcheckpoint: x\n\r[#####"), std::string::npos) << text;
  // Nothing is left on the last line.
  EXPECT_EQ(text.substr(text.size() - 4), "\r\033[K");
}

}  // namespace
}  // namespace cpu_llm
