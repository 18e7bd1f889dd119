DROP TABLE key_set;
DROP TABLE signing_keys;
