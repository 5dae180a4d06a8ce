// fuzz/fuzz_config.cpp — the mail.ini parser on hostile text: it either returns a config
// that passes validation with every value in its range, or throws one ConfigError line
// that names the file and holds only printable ASCII (no line breaks, no escapes).
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "fuzz/fuzz_support.hpp"

using ringmail::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const ringmail::Config c = ringmail::parse_config_text(text, "mail.ini");
        ringmail::validate_config(c);  // throws on a config the parser should have refused
        check(c.limits.max_message_size >= 1024, "max_message_size in range");
        check(c.limits.max_recipients >= 1 && c.limits.max_recipients <= 100000, "max_recipients in range");
        check(c.max_connections >= 1, "max_connections in range");
        check(c.reactors <= 256 && c.handler_threads <= 1024, "thread counts in range");
        check(c.tls_handshake_timeout >= 1, "tls_handshake_timeout in range");
        // The same text parses to the same config (no state kept between parses).
        const ringmail::Config again = ringmail::parse_config_text(text, "mail.ini");
        check(again.port == c.port && again.handler == c.handler && again.hostname == c.hostname &&
                  again.limits.max_message_size == c.limits.max_message_size,
              "parsing is deterministic");
    } catch (const ringmail::ConfigError& e) {
        const std::string_view msg = e.what();
        check(msg.starts_with("mail.ini:"), "the error names the file");
        check(msg.size() <= 400, "the error is short");
        for (const char ch : msg) {
            const auto u = static_cast<unsigned char>(ch);
            check(u >= 0x20 && u < 0x7f, "the error is one line of printable ASCII");
        }
    }
    return 0;
}
