"""Software devices speaking the real wire protocols on loopback. Import nothing of controller/."""
