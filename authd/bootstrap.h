/* The first admin of an empty store (SPEC §1). */
#ifndef AUTHD_BOOTSTRAP_H
#define AUTHD_BOOTSTRAP_H

#include "common.h"

int bootstrap_admin(const char *data_dir, struct failure *err);

#endif
