"""The local durable journal: transaction messages kept on disk while the database is down."""
