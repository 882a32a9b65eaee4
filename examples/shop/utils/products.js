const products = [
  { id: 'p1', name: 'Green tea', price: 1800, stock: 12, tags: ['drink', 'hot'] },
  { id: 'p2', name: 'Dumplings', price: 2600, stock: 5, tags: ['food'] },
  { id: 'p3', name: 'Mooncake', price: 1200, stock: 0, tags: ['food', 'sweet'] },
  { id: 'p4', name: 'Soy milk', price: 600, stock: 40, tags: ['drink'] }
]

function find(id) {
  return products.find(p => p.id === id) || null
}

module.exports = { products, find }
