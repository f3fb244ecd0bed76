"""Device drivers: one module per wire protocol. Imports neither controller/ nor mailsort/."""
