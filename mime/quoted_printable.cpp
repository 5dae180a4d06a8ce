// mime/quoted_printable.cpp — placeholder; being written.
#include "mime/quoted_printable.hpp"
