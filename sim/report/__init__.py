"""Documents and figures for people: the brief and its charts."""
