"""Sales statistics: the summaries kept in each push, and the queries read from them."""
