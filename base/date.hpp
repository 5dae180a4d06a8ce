// base/date.hpp — RFC 5322 3.3 date-time ("Sun, 06 Dec 2026 19:42:17 +0000") for Date and
// Received fields. Takes the time as an argument; the caller reads the clock.
#pragma once
#include <ctime>
#include <string>

namespace ringmail::base {

// In the machine's local time zone with its numeric offset, as MTAs write it.
std::string rfc5322_date(std::time_t t);

}  // namespace ringmail::base
