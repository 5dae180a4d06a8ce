// mime/charset.cpp — placeholder; being written.
#include "mime/charset.hpp"
