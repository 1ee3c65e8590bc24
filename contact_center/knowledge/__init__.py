"""The knowledge base: categories in a tree, articles in Markdown shown as sanitised HTML, and search
that suggests articles for what a customer wrote."""
