// cpu_llm: train GPT-2 style language models on CPUs.
// The only place that turns errors into messages and exit codes:
// 0 success, 1 runtime error (files, I/O, numerics), 2 usage error.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "dist/communicator.h"

int main(int argc, char** argv) {
  CLI::App app{"cpu_llm: train GPT-2 style language models on CPUs, fast.", "cpu_llm"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  std::vector<std::pair<CLI::App*, cpu_llm::CommandRunner>> commands;
  cpu_llm::CommandRunner train = cpu_llm::AddTrainCommand(app);
  commands.emplace_back(app.get_subcommand("train"), std::move(train));
  cpu_llm::CommandRunner sample = cpu_llm::AddSampleCommand(app);
  commands.emplace_back(app.get_subcommand("sample"), std::move(sample));
  cpu_llm::CommandRunner prepare = cpu_llm::AddPrepareCommand(app);
  commands.emplace_back(app.get_subcommand("prepare"), std::move(prepare));
  cpu_llm::CommandRunner bench = cpu_llm::AddBenchCommand(app);
  commands.emplace_back(app.get_subcommand("bench"), std::move(bench));
  cpu_llm::CommandRunner export_cmd = cpu_llm::AddExportCommand(app);
  commands.emplace_back(app.get_subcommand("export"), std::move(export_cmd));
  cpu_llm::CommandRunner import_cmd = cpu_llm::AddImportCommand(app);
  commands.emplace_back(app.get_subcommand("import"), std::move(import_cmd));
  cpu_llm::CommandRunner eval = cpu_llm::AddEvalCommand(app);
  commands.emplace_back(app.get_subcommand("eval"), std::move(eval));
  cpu_llm::CommandRunner plot = cpu_llm::AddPlotCommand(app);
  commands.emplace_back(app.get_subcommand("plot"), std::move(plot));
  cpu_llm::CommandRunner info = cpu_llm::AddInfoCommand(app);
  commands.emplace_back(app.get_subcommand("info"), std::move(info));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // CLI11's own report spans two lines; keep it to one.
    const char* sub = nullptr;
    for (auto& [cmd, run] : commands)
      if (cmd->parsed()) sub = cmd->get_name().c_str();
    std::string msg = e.what();
    // "cpu_llm --bogus" fails the subcommand requirement before CLI11 looks
    // at extras; name the argument at fault instead.
    if (!sub && !app.remaining().empty()) msg = "The following argument was not expected: " + app.remaining().front();
    std::fprintf(stderr, "cpu_llm%s%s: error: %s\n", sub ? " " : "", sub ? sub : "", msg.c_str());
    return 2;
  }
  for (auto& [cmd, run] : commands) {
    if (!cmd->parsed()) continue;
    // Every rank would run the whole command and write the same files.
    if (cpu_llm::LaunchedByMpi() && cmd->get_name() != "train") {
      std::fprintf(stderr, "cpu_llm %s: error: only `train` runs under mpirun; start %s as one process\n",
                   cmd->get_name().c_str(), cmd->get_name().c_str());
      return 2;
    }
    cpu_llm::Status s;
    try {
      s = run();
    } catch (const std::bad_alloc&) {
      s = cpu_llm::Status::Runtime("out of memory");
    }
    if (!s.ok()) {
      std::fprintf(stderr, "cpu_llm %s: error: %s\n", cmd->get_name().c_str(), s.message().c_str());
      return s.exit_code();
    }
    return 0;
  }
  return 2;
}
