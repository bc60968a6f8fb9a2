/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared by the PCI layer's modules only. */
#ifndef AISIO_PCI_INTERNAL_H
#define AISIO_PCI_INTERNAL_H

#include <stddef.h>

/* root (NULL or "" for the running system) joined with a path built from fmt, which starts
 * with '/'. -ENAMETOOLONG when it does not fit. */
int pci_root_path(char *out, size_t len, const char *root, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* AISIO_PCI_INTERNAL_H */
