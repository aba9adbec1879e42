/* `bramble-master --restore SNAPSHOT`: puts a snapshot's database and CA
 * files back into a data dir. The snapshot is checked first (the database's
 * integrity, the CA key and certificate parse and belong together), and
 * nothing in the data dir changes unless it passes. The state it replaces
 * is moved to DATA_DIR/before-restore-TIME/, never deleted. */
#ifndef BRM_RESTORE_H
#define BRM_RESTORE_H

#include "store.h"

/* Restores snapshot (a directory, or the name of one in
 * DATA_DIR/snapshots) into data_dir, which the caller has locked. Prints
 * what it did on stdout, or one line saying why it refused on stderr.
 * Returns the process exit code: 0 done, 1 refused or failed. */
int brm_restore(const struct brm_store_ops *ops, const char *data_dir, const char *snapshot);

#endif
