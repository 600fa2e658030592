// Placeholder: the eval frame is being written.
