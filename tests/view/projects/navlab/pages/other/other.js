Page({
  onShareAppMessage() {
    return { title: 'Orphan', path: '/pages/orphan/orphan?k=shared' }
  }
})
