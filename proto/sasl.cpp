// proto/sasl.cpp — small strict base64 for SASL lines; the fast mail codecs live in mime/.
#include "proto/sasl.hpp"

#include <array>

namespace ringmail::proto {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr auto decode_table = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < alphabet.size(); ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
    return t;
}();

}  // namespace

std::optional<std::string> sasl_base64_decode(std::string_view in) {
    if (in.size() % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3);
    for (std::size_t i = 0; i < in.size(); i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = in[i + k];
            if (c == '=' && i + 4 == in.size() && k >= 2) {
                v[k] = 0;
                ++pad;
                continue;
            }
            if (pad) return std::nullopt;  // data after padding
            v[k] = decode_table[static_cast<unsigned char>(c)];
            if (v[k] < 0) return std::nullopt;
        }
        const unsigned n = unsigned(v[0]) << 18 | unsigned(v[1]) << 12 | unsigned(v[2]) << 6 | unsigned(v[3]);
        out.push_back(char(n >> 16));
        if (pad < 2) out.push_back(char(n >> 8 & 0xff));
        if (pad < 1) out.push_back(char(n & 0xff));
    }
    return out;
}

std::string sasl_base64_encode(std::string_view in) {
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < in.size(); i += 3) {
        const std::size_t n = in.size() - i;
        unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16;
        if (n > 1) v |= unsigned(static_cast<unsigned char>(in[i + 1])) << 8;
        if (n > 2) v |= static_cast<unsigned char>(in[i + 2]);
        out.push_back(alphabet[v >> 18]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(n > 1 ? alphabet[v >> 6 & 63] : '=');
        out.push_back(n > 2 ? alphabet[v & 63] : '=');
    }
    return out;
}

std::optional<PlainCredentials> split_plain(std::string_view d) {
    const std::size_t a = d.find('\0');
    if (a == std::string_view::npos) return std::nullopt;
    const std::size_t b = d.find('\0', a + 1);
    if (b == std::string_view::npos || d.find('\0', b + 1) != std::string_view::npos) return std::nullopt;
    PlainCredentials c{std::string(d.substr(a + 1, b - a - 1)), std::string(d.substr(b + 1))};
    if (c.user.empty()) return std::nullopt;
    return c;
}

}  // namespace ringmail::proto
