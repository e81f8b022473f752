"""Private helpers shared across sealbox: the only home of such helpers.

files (atomic writes, bounded reads), temporaries (the temporary files of atomic
writes: named, locked, cleaned up), aligned (bulk outputs written in aligned pieces),
locks (sidecar ``flock``), merge (lock, re-read, merge, write), pem (PEM blocks), lazy
(names imported on first use), moved (old module paths that still import), write_hints
(what to do about a refused write).

May import: the standard library only (and :mod:`sealbox.exceptions`, as every
package may). Nothing else in sealbox; every package may import it.
"""
