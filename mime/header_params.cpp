// mime/header_params.cpp — placeholder; being written.
#include "mime/header_params.hpp"
