"""The sandbox around student code, seen from the trusted side: bubblewrap, cgroups, seccomp,
the child process and its compilation cache (what runs inside is `inside_sandbox`)."""
