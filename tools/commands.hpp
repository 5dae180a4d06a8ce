// tools/commands.hpp — the subcommands of `ringmail`; each adds itself to the CLI11 app
// and, when chosen, stores its exit status in `status`.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

namespace ringmail::tools {

void add_serve(CLI::App& app, int& status);
void add_parse(CLI::App& app, int& status);
void add_extract(CLI::App& app, int& status);
void add_compose(CLI::App& app, int& status);
void add_send(CLI::App& app, int& status);
void add_queue(CLI::App& app, int& status);
void add_mx(CLI::App& app, int& status);

// A whole file ("-": standard input); throws std::runtime_error naming it on failure.
std::string read_file(const std::string& path);

}  // namespace ringmail::tools
