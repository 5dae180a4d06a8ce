// engine/print_handler.hpp — the default on_mail: prints each mail object to stdout.
#pragma once
#include "engine/handlers.hpp"

namespace ringmail::engine {

Verdict print_mail(const Mail& mail);

}  // namespace ringmail::engine
