#include "core/context.h"

#include <omp.h>

namespace cpu_llm {

int DefaultThreadCount() { return omp_get_max_threads(); }

}  // namespace cpu_llm
