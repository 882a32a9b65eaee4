const store = require('../../utils/store.js')

Page({
  data: {
    draft: '',
    todos: [],
    filter: 'all',
    filters: ['all', 'active', 'done']
  },

  onLoad() {
    this.setData({ todos: store.load() })
  },

  onPullDownRefresh() {
    this.setData({ todos: store.load() })
    wx.stopPullDownRefresh()
  },

  onInput(e) {
    this.setData({ draft: e.detail.value })
  },

  add() {
    const title = this.data.draft.trim()
    if (!title) {
      wx.showToast({ title: 'Type something first', icon: 'none' })
      return
    }
    const todo = { id: Date.now().toString(36) + this.data.todos.length, title, done: false }
    const todos = this.data.todos.concat([todo])
    this.setData({ todos, draft: '' }, () => store.save(this.data.todos))
  },

  toggle(e) {
    const id = e.currentTarget.dataset.id
    const index = this.data.todos.findIndex(t => t.id === id)
    if (index < 0) return
    this.setData({ [`todos[${index}].done`]: !this.data.todos[index].done })
    store.save(this.data.todos)
  },

  remove(e) {
    const id = e.currentTarget.dataset.id
    wx.showModal({
      title: 'Delete',
      content: 'Delete this todo?',
      success: (res) => {
        if (!res.confirm) return
        const todos = this.data.todos.filter(t => t.id !== id)
        this.setData({ todos })
        store.save(todos)
      }
    })
  },

  setFilter(e) {
    this.setData({ filter: e.currentTarget.dataset.filter })
  },

  openStats() {
    const done = this.data.todos.filter(t => t.done).length
    wx.navigateTo({ url: `/pages/stats/stats?total=${this.data.todos.length}&done=${done}` })
  }
})
