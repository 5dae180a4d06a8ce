// tools/commands.hpp — the subcommands of `ringmail`; each adds itself to the CLI11 app
// and, when chosen, stores its exit status in `status`.
#pragma once
#include <CLI/CLI.hpp>

namespace ringmail::tools {

void add_serve(CLI::App& app, int& status);
void add_parse(CLI::App& app, int& status);
void add_extract(CLI::App& app, int& status);
void add_compose(CLI::App& app, int& status);
void add_send(CLI::App& app, int& status);

}  // namespace ringmail::tools
