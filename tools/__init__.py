"""Tools a run can call: server-side functions and the sandboxed code interpreter."""
