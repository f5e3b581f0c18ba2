"""Django's SQLite backend with the write lock waited for in fine steps (see `base`)."""
