"""A question's life: asking, answering, passing, escalating; its states and their values."""
