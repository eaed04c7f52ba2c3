// Subcommands of the cpu_llm binary. Each adds its options to the CLI11 app
// and returns a function that runs it once the command line has parsed.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"

namespace cpu_llm {

using CommandRunner = std::function<Status()>;

CommandRunner AddTrainCommand(CLI::App& root);
CommandRunner AddSampleCommand(CLI::App& root);
CommandRunner AddPrepareCommand(CLI::App& root);
CommandRunner AddBenchCommand(CLI::App& root);
CommandRunner AddExportCommand(CLI::App& root);
CommandRunner AddImportCommand(CLI::App& root);
CommandRunner AddEvalCommand(CLI::App& root);
CommandRunner AddPlotCommand(CLI::App& root);
CommandRunner AddInfoCommand(CLI::App& root);

// "\n\n" typed on a command line arrives as backslash + n; turns the usual
// escapes (\n \t \r \\) into the characters they name.
std::string Unescape(const std::string& s);

}  // namespace cpu_llm
