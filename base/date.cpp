// base/date.cpp — strftime with the C locale's English day and month names, which is what
// RFC 5322 3.3 asks for (the program never calls setlocale for LC_TIME).
#include "base/date.hpp"

namespace ringmail::base {

std::string rfc5322_date(std::time_t t) {
    std::tm tm{};
    ::localtime_r(&t, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S %z", &tm);
    return std::string(buf, n);
}

}  // namespace ringmail::base
