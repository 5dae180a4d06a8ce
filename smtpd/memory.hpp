// smtpd/memory.hpp — giving freed memory back to the system after a burst of messages.
#pragma once

namespace ringmail::smtpd {

// Returns this thread's freed memory to the operating system where the allocator keeps
// it: mimalloc (when the program links it) holds blocks freed by other threads (the
// handler that wrote a message frees its body) until the allocating thread collects
// them, and an idle reactor never would. glibc's malloc is trimmed instead.
void return_free_memory() noexcept;

}  // namespace ringmail::smtpd
