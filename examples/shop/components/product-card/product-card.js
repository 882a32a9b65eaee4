Component({
  properties: {
    product: { type: Object, value: null },
    highlight: { type: Boolean, value: false }
  },
  data: { soldOut: false },
  observers: {
    'product.stock': function (stock) {
      this.setData({ soldOut: stock === 0 })
    }
  },
  methods: {
    onTap() {
      this.triggerEvent('select', { id: this.data.product.id })
    }
  }
})
