"""What every stage shares: the facts and result documents, progress events, safe text and bounded
parsing, and how trusted processes are started."""
