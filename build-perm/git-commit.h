#define AH_GIT_COMMIT "1af1437e1555-dirty"
